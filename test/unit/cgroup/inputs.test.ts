/** Sizes, durations and names: the three kinds of caller input parsed in one place each. */
import { describe, expect, it } from 'vitest';
import { AgentHostError, ErrorCode } from '../../../src/errors.js';
import { parseDuration } from '../../../src/util/duration.js';
import { MAX_NAME_LENGTH, validateName } from '../../../src/util/name.js';
import { formatBytes, groupDigits, parseSize } from '../../../src/util/size.js';

const K = 1024;
const M = K * K;
const G = K * M;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentHostError);
    return (error as AgentHostError).code;
  }
  return undefined;
}

describe('parseSize', () => {
  it.each<[string | number, number]>([
    [0, 0],
    [4096, 4096],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['0', 0],
    ['4096', 4096],
    ['4G', 4 * G],
    ['4g', 4 * G],
    ['3GiB', 3 * G],
    ['3GB', 3 * G],
    ['3gib', 3 * G],
    ['512M', 512 * M],
    ['64k', 64 * K],
    ['64K', 64 * K],
    ['1T', K * G],
    ['1.5G', 1.5 * G],
    ['0.5k', 512],
    ['100B', 100],
    ['100b', 100],
    [' 4G ', 4 * G],
    ['4 G', 4 * G],
    ['max', Infinity],
    ['MAX', Infinity],
    ['infinity', Infinity],
  ])('%j → %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each<[string, unknown]>([
    ['an unknown unit', '4XB'],
    ['a unit without a number', 'G'],
    ['a bare suffix', 'iB'],
    ['"i" without a unit', '4iB'],
    ['a negative number', -1],
    ['a negative string', '-1'],
    ['a fraction of a byte as a number', 1.5],
    ['NaN', NaN],
    ['Infinity as a number', Infinity],
    ['-Infinity', -Infinity],
    ['exponent notation', '1e3'],
    ['an overflowing exponent', '1e999'],
    ['beyond 2^53 bytes', '8E'],
    ['beyond 2^53 as a number', 2 ** 60],
    ['an empty string', ''],
    ['blanks', '   '],
    ['two numbers', '4G 4G'],
    ['hex', '0x10'],
    ['unicode digits', '４G'],
    ['a NUL', '4G\0'],
    ['null', null],
    ['undefined', undefined],
    ['an object', { bytes: 4 }],
    ['a boolean', true],
  ])('rejects %s with ERR_INVALID_SIZE', (_what, input) => {
    expect(codeOf(() => parseSize(input as string))).toBe(ErrorCode.INVALID_SIZE);
  });

  it('names what was invalid and the value in the message', () => {
    expect(() => parseSize('4XB', 'memoryMax')).toThrow(/invalid memoryMax "4XB"/);
  });
});

describe('formatBytes', () => {
  it.each<[number, string]>([
    [0, '0B'],
    [1023, '1023B'],
    [1024, '1.0K'],
    [512 * M, '512M'],
    [4 * G, '4.0G'],
    [Infinity, 'max'],
    [NaN, '-'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('groupDigits', () => {
  it.each<[number, number, string]>([
    [0, 0, '0'],
    [999, 0, '999'],
    [1000, 0, '1,000'],
    [153600, 0, '153,600'],
    [1234567.85, 1, '1,234,567.9'],
    [1304, 1, '1,304.0'],
    [-4096, 0, '-4,096'],
  ])('%d with %d decimals → %s', (value, digits, text) => {
    expect(groupDigits(value, digits)).toBe(text);
    expect(groupDigits(value, digits)).toBe(value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  });
});

describe('parseDuration', () => {
  it.each<[string | number, number]>([
    [0, 0],
    [1500, 1500],
    [0.5, 0.5],
    ['250', 250],
    ['500ms', 500],
    ['10s', 10_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['1.5s', 1500],
    [' 10s ', 10_000],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each<[string, unknown]>([
    ['words', 'soon'],
    ['a negative number', -5],
    ['a negative string', '-5s'],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['an unknown unit', '5y'],
    ['a unit alone', 's'],
    ['a blank between parts', '1h 30m'],
    ['trailing junk', '10sx'],
    ['an empty string', ''],
    ['an overflowing exponent', '1e999'],
    ['a number string beyond any double', '9'.repeat(400)],
    ['a unit string beyond any double', `${'9'.repeat(400)}s`],
    ['null', null],
    ['an object', {}],
  ])('rejects %s with ERR_INVALID_DURATION', (_what, input) => {
    expect(codeOf(() => parseDuration(input as string))).toBe(ErrorCode.INVALID_DURATION);
  });

  it('names what was invalid in the message', () => {
    expect(() => parseDuration('soon', 'softTimeout')).toThrow(/invalid softTimeout "soon"/);
  });
});

describe('validateName', () => {
  it.each(['agent-001', 'a', 'A.b_c@d:e+f-g', '0', 'x'.repeat(MAX_NAME_LENGTH), 'cargo.build'])('accepts %j', (name) => {
    expect(validateName(name)).toBe(name);
  });

  it.each<[string, unknown]>([
    ['a parent reference', '..'],
    ['a path up', '../x'],
    ['a slash', 'a/b'],
    ['an absolute path', '/etc'],
    ['"." alone', '.'],
    ['a leading dot (hidden, or a kernel file)', '.x'],
    ['".." inside', 'a..b'],
    ['a trailing slash', 'a/'],
    ['a NUL', 'a\0b'],
    ['a newline (kernfs refuses it)', 'a\nb'],
    ['a blank', 'a b'],
    ['a tab', 'a\tb'],
    ['unicode', 'agént'],
    ['an emoji', 'agent-🚀'],
    ['shell metacharacters', 'a;rm -rf'],
    ['a backslash', 'a\\b'],
    ['a leading dash (an option to tools)', '-rf'],
    ['too long (300 chars)', 'x'.repeat(300)],
    ['one over the limit', 'x'.repeat(MAX_NAME_LENGTH + 1)],
    ['an empty string', ''],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
  ])('rejects %s with ERR_INVALID_NAME', (_what, input) => {
    expect(codeOf(() => validateName(input))).toBe(ErrorCode.INVALID_NAME);
  });

  it('shortens a long name in the message and names what was invalid', () => {
    let message = '';
    try {
      validateName('y'.repeat(300), 'agent id');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^invalid agent id "y{40}…"/);
    expect(message.length).toBeLessThan(250);
  });
});
