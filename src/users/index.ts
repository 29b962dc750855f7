export { AgentUsers, userSpawnOptions, type AgentUserRecord, type AgentUsersOptions, type UserSpawnOptions } from './agent-users.js';
export { DynamicUsers, type DynamicUser, type DynamicUsersOptions } from './dynamic.js';
export { lookupUser, parseGroupIds, parsePasswd, readUserDatabase, type PasswdEntry, type UserDatabase, type UserDatabaseFiles } from './passwd.js';
export { defaultUser, resolveUser, type AgentUser, type ResolvedUser } from './user.js';
