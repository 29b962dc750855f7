/**
 * The kernel's views of user ids: a process's uids (`/proc/<pid>/status`) and a user namespace's id
 * maps (`uid_map`, `gid_map`), read to choose dynamic uids nobody else uses or could map.
 */

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** /proc/<pid>/status: the process's uids (real, effective, saved, filesystem), or [] without a `Uid:` line. */
export function parseStatusUids(text: string): number[] {
  const line = lines(text).find((l) => l.startsWith('Uid:'));
  return line === undefined ? [] : line.slice(4).trim().split(/\s+/).map(Number).filter(Number.isInteger);
}

/** /proc/<pid>/uid_map or gid_map: the id ranges mapped into the user namespace, as [first, count] (inside ids). */
export function parseIdMap(text: string): Array<[number, number]> {
  return lines(text)
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((fields) => fields.length === 3 && fields.every(Number.isSafeInteger))
    .map(([inside, , count]) => [inside!, count!]);
}
