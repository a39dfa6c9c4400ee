// Run as a child process: uses the default (ip -batch) driver, never closes it, and must still exit.
// Two namespaces at once, so that the default pool's second process is started (and idles) too.
import { BatchDriver, createNetns, defaultDriver } from "../../src/netns/index.js";

const name = process.argv[2];
if (name === undefined) throw new Error("usage: idle-exit.ts NAME");
const created = await Promise.all([createNetns({ name: `${name}-a` }), createNetns({ name: `${name}-b` })]);
const namespaces = created.map((r) => r._unsafeUnwrap());
for (const r of await Promise.all(namespaces.map((ns) => ns.remove()))) r._unsafeUnwrap();
const driver = defaultDriver();
console.log(`created and removed with ${driver instanceof BatchDriver ? driver.pids.length : "no"} processes`);
