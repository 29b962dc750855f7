/**
 * The system's user database, read from `/etc/passwd` and `/etc/group` (the files NSS reads by
 * default): enough to turn a user name into its uid and primary gid, and to know which ids are
 * taken so dynamic agent users never collide with a real account. No `getent`, no NSS modules:
 * users that exist only in LDAP or sssd must be given as `{ uid, gid }`.
 */
import { readFileSync } from 'node:fs';
import { AgentHostError, ErrorCode } from '../errors.js';

/** One account of `/etc/passwd`. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The parts of `/etc/passwd` and `/etc/group` the host needs. */
export interface UserDatabase {
  users: PasswdEntry[];
  /** Every gid of `/etc/group`. */
  groups: Set<number>;
}

/** Where the database is read from; tests point these at temp files. */
export interface UserDatabaseFiles {
  /** Default `/etc/passwd`. */
  passwd?: string;
  /** Default `/etc/group`. */
  group?: string;
}

/**
 * Parses `/etc/passwd` text (`name:password:uid:gid:gecos:home:shell`). Comments, blank lines,
 * NIS `+`/`-` entries and lines without numeric ids are skipped, as glibc's files module does.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    const [name = '', , uid = '', gid = '', , home = ''] = fields;
    if (fields.length < 7 || name === '' || /^[#+-]/.test(name)) continue;
    if (!isId(uid) || !isId(gid)) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), home });
  }
  return entries;
}

/** The gids of `/etc/group` text (`name:password:gid:members`). */
export function parseGroupIds(text: string): Set<number> {
  const gids = new Set<number>();
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 4 && fields[0] !== '' && !/^[#+-]/.test(fields[0]!) && isId(fields[2]!)) gids.add(Number(fields[2]));
  }
  return gids;
}

/** Reads the database; a missing file counts as empty (a minimal container may have no /etc/group). */
export function readUserDatabase(files: UserDatabaseFiles = {}): UserDatabase {
  return {
    users: parsePasswd(readOptional(files.passwd ?? '/etc/passwd')),
    groups: parseGroupIds(readOptional(files.group ?? '/etc/group')),
  };
}

/** The account called `name`, or `ERR_USER_NOT_FOUND` naming the file searched. */
export function lookupUser(name: string, files: UserDatabaseFiles = {}): PasswdEntry {
  const entry = readUserDatabase(files).users.find((user) => user.name === name);
  if (!entry) {
    throw new AgentHostError(ErrorCode.USER_NOT_FOUND, `no user ${JSON.stringify(name)} in ${files.passwd ?? '/etc/passwd'} (give { uid, gid } for users of other databases)`, {
      file: files.passwd ?? '/etc/passwd',
    });
  }
  return entry;
}

function isId(text: string): boolean {
  return /^\d{1,10}$/.test(text) && Number(text) <= 0xffff_fffe;
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}
