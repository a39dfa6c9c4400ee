// Publishing of engine events to a transaction's `onEvent` observer and to diagnostics_channel.
//
// Channels (subscribe with `diagnostics_channel.subscribe(name, fn)`):
// - `errdefer:transaction`: `transaction:started`, `transaction:finished`
// - `errdefer:cleanup`: `cleanup:registered`, `cleanup:started`, `cleanup:succeeded`,
//   `cleanup:failed`, `cleanup:skipped`, `cleanup:retained`
import diagnosticsChannel from "node:diagnostics_channel";
import type { TransactionEvent } from "./types.js";

/** The `node:diagnostics_channel` name every transaction publishes its `TransactionEvent`s to. */
export const TRANSACTION_CHANNEL = "errdefer:transaction";
/** The `node:diagnostics_channel` name each cleanup's start and end (with its duration) are published to. */
export const CLEANUP_CHANNEL = "errdefer:cleanup";

const transactionChannel = diagnosticsChannel.channel(TRANSACTION_CHANNEL);
const cleanupChannel = diagnosticsChannel.channel(CLEANUP_CHANNEL);

/** Routes events; created per transaction only when someone listens, so the hot path pays nothing. */
export class EventSink {
  readonly #onEvent: ((event: TransactionEvent) => void) | undefined;

  constructor(onEvent: ((event: TransactionEvent) => void) | undefined) {
    this.#onEvent = onEvent;
  }

  /** An EventSink when anyone listens (an observer or a channel subscriber), else undefined. */
  static open(onEvent: ((event: TransactionEvent) => void) | undefined): EventSink | undefined {
    if (onEvent === undefined && !transactionChannel.hasSubscribers && !cleanupChannel.hasSubscribers) {
      return undefined;
    }
    return new EventSink(onEvent);
  }

  emit(event: TransactionEvent): void {
    if (this.#onEvent !== undefined) {
      try {
        this.#onEvent(event);
      } catch {
        // An observer must never change what the transaction does.
      }
    }
    const channel = event.type.startsWith("transaction:") ? transactionChannel : cleanupChannel;
    if (channel.hasSubscribers) channel.publish(event);
  }
}
