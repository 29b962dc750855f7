/**
 * The byte-level parsers against the string parsers, on the same kernel file texts: both must
 * read the same numbers and reject the same text.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import {
  byteKeys,
  hasPidBytes,
  parseFlatKeyed,
  parseFlatKeyedBytes,
  parseMeminfo,
  parseMeminfoBytes,
  parseNumber,
  parseNumberBytes,
  parsePids,
  parsePsi,
  parsePsiBytes,
  psiOf,
} from '../../../src/cgroup/parse.js';

/** The text in a larger buffer with junk after it, as OpenFile's shared buffer holds it. */
function bytesOf(text: string): [Buffer, number] {
  const buffer = Buffer.alloc(text.length + 16, 'x');
  return [buffer, buffer.write(text, 'latin1')];
}

const parseError = expect.objectContaining({ code: ErrorCode.CGROUP_PARSE });

describe('parseNumberBytes', () => {
  it.each(['0\n', '67108864\n', '  42  ', 'max\n', '9223372036854771712\n', '9223372036854710272\n', '-1', '123456789012345\n', '1234567890123456\n'])(
    '%j as parseNumber reads it',
    (text) => {
      expect(parseNumberBytes(...bytesOf(text))).toBe(parseNumber(text));
    },
  );

  it.each(['', '\n', 'abc', 'max2', '1 2', 'NaN', '1e999'])('rejects %j with ERR_CGROUP_PARSE', (text) => {
    expect(() => parseNumberBytes(...bytesOf(text))).toThrow(parseError);
  });
});

describe('parseFlatKeyedBytes', () => {
  const files = [
    'low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n',
    'populated 1\nfrozen 0\n',
    'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    'anon 4096\nfile 123456789012\ninactive_file 8192\n',
    'limit max\n',
    'high 5',
  ];
  const names = ['low', 'high', 'max', 'oom', 'oom_kill', 'populated', 'frozen', 'file', 'inactive_file', 'limit', 'missing'];

  it.each(files)('%j: the keys asked for as parseFlatKeyed reads them, NaN where absent', (text) => {
    const out = parseFlatKeyedBytes(...bytesOf(text), byteKeys(...names), new Float64Array(names.length));
    const expected = parseFlatKeyed(text);
    expect([...out]).toEqual(names.map((name) => expected[name] ?? NaN));
  });

  it('does not take a longer or shorter key for the one asked for', () => {
    const out = parseFlatKeyedBytes(...bytesOf('oom_kill_disable 7\noom 1\n'), byteKeys('oom_kill', 'oo'), new Float64Array(2));
    expect([...out]).toEqual([NaN, NaN]);
  });

  it('throws ERR_CGROUP_PARSE on a value of a key asked for that is not a number', () => {
    expect(() => parseFlatKeyedBytes(...bytesOf('low zero\n'), byteKeys('low'), new Float64Array(1))).toThrow(parseError);
  });
});

describe('parseMeminfoBytes', () => {
  const text = 'MemTotal:       24683236 kB\nMemFree:\t 1000 kB\nMemAvailable:   24380000 kB\nHugePages_Total:       0\nBad:   12 MB\nNoValue:  kB\n';
  const names = ['MemTotal', 'MemFree', 'MemAvailable', 'HugePages_Total', 'Bad', 'NoValue', 'SwapTotal'];

  it('reads the keys asked for as parseMeminfo does (kB → bytes), NaN where absent or malformed', () => {
    const out = parseMeminfoBytes(...bytesOf(text), byteKeys(...names), new Float64Array(names.length));
    const expected = parseMeminfo(text);
    expect([...out]).toEqual(names.map((name) => expected[name] ?? NaN));
    expect(out[0]).toBe(24683236 * 1024);
  });
});

describe('parsePsiBytes', () => {
  it.each([
    'some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=789\n',
    'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n',
    'some avg10=12.34 avg60=99.99 avg300=0.07 total=98765432101\nfull avg10=0.10 avg60=0.30 avg300=3.33 total=1',
  ])('%j as parsePsi reads it', (text) => {
    expect(psiOf(parsePsiBytes(...bytesOf(text), new Float64Array(8)))).toEqual(parsePsi(text));
  });

  it('throws ERR_CGROUP_PARSE without a some line', () => {
    expect(() => parsePsiBytes(...bytesOf(''), new Float64Array(8))).toThrow(parseError);
    expect(() => parsePsiBytes(...bytesOf('full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'), new Float64Array(8))).toThrow(parseError);
  });
});

describe('hasPidBytes', () => {
  it.each(['12\n345\n\n0\n-1\nx\n6789\n', '', '\n', '0\n', '-1\nx\n', '7'])('%j: whether parsePids finds any', (text) => {
    expect(hasPidBytes(...bytesOf(text))).toBe(parsePids(text).length > 0);
  });
});
