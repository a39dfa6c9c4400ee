// Run as a child process: awaits the batch driver's close(), which must resume its caller.
import { createBatchDriver } from "../../src/netns/index.js";

const driver = createBatchDriver();
await driver.ip(["link", "show", "lo"]);
await driver.close();
console.log("after close");
