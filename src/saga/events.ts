// Saga step events on node:diagnostics_channel, beside each run's onStep: a tracer or logger can
// watch every saga of the process without being passed to each run (as with the engine's channels).
import diagnosticsChannel from "node:diagnostics_channel";

/**
 * The `node:diagnostics_channel` name every saga publishes its `StepEvent`s to (`step:started`,
 * `step:succeeded`, `step:failed`, `step:skipped`), the same events its `onStep` receives.
 */
export const SAGA_CHANNEL = "errdefer:saga";

/** The channel; publish only when `hasSubscribers`, so a run nobody watches pays nothing. */
export const sagaChannel = diagnosticsChannel.channel(SAGA_CHANNEL);
