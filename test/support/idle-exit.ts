// Run as a child process: uses the default (ip -batch) driver, never closes it, and must still exit.
import { createNetns } from "../../src/netns/index.js";

const name = process.argv[2];
if (name === undefined) throw new Error("usage: idle-exit.ts NAME");
const ns = (await createNetns({ name }))._unsafeUnwrap();
(await ns.remove())._unsafeUnwrap();
console.log("created and removed");
