// Bridges the generated CRI descriptors (cri/gen/api_pb.ts, made by @bufbuild/protobuf's
// protoc-gen-es from the vendored api.proto) to @grpc/grpc-js: one typed server definition and one
// typed promise client, so the server and every client (tests, bench, the containerd comparison)
// encode exactly the same messages. Generated code over a runtime proto loader: request and
// response types are checked at compile time, and protobuf-es's JSON form is crictl's `-o json`.
import * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
  type MessageShape,
  type Message,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

/** The unary methods of a service (the only kind the runner serves), by local name. */
type UnaryNames<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary" ? K : never;
}[keyof S] &
  string;

/** What a handler learns about its call besides the request. */
export interface CallContext {
  /** Aborted when the client cancels, its deadline passes, or the server shuts the call down. */
  readonly signal: AbortSignal;
  /** The client's deadline in ms since the epoch, or Infinity when it set none. */
  readonly deadline: number;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
}

/** Server-side handlers: one async function per unary method; the ones left out answer UNIMPLEMENTED. */
export type UnaryHandlers<S extends GenServiceMethods> = {
  [K in UnaryNames<S>]?: (
    request: MessageShape<S[K]["input"]>,
    call: CallContext,
  ) => Promise<MessageInitShape<S[K]["output"]>>;
};

/** A failure with a gRPC status code; any other thrown error answers UNKNOWN with its message. */
export class StatusError extends Error {
  override readonly name = "StatusError";
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

function path(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function codec<D extends DescMessage>(schema: D) {
  return {
    serialize: (message: MessageShape<D>): Buffer => Buffer.from(toBinary(schema, message)),
    deserialize: (bytes: Buffer): MessageShape<D> => fromBinary(schema, bytes),
  };
}

/** The grpc-js definition of every method of `service` (streaming ones too, so they can answer UNIMPLEMENTED). */
export function serviceDefinition(service: GenService<GenServiceMethods>): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    definition[method.localName] = {
      path: path(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: input.serialize,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize,
      responseDeserialize: output.deserialize,
    };
  }
  return definition;
}

/** How much earlier than our deadline a client's own deadline can pass (the request's transit). */
const DEADLINE_SLACK_MS = 250;

/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A call's context, and `done` to call once it is answered. Its signal is aborted with
 * DEADLINE_EXCEEDED when the client's deadline passes (by a timer of our own too: the client's
 * cancellation may come later, or not at all), and with CANCELLED when the client cancels.
 */
function callContext(call: grpc.ServerUnaryCall<unknown, unknown>): { context: CallContext; done: () => void } {
  const controller = new AbortController();
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  const expire = (): void =>
    controller.abort(new StatusError(grpc.status.DEADLINE_EXCEEDED, "the client's deadline passed"));
  const left = deadline - Date.now();
  const timer = Number.isFinite(left) && left < MAX_TIMER_MS ? setTimeout(expire, Math.max(0, left)) : undefined;
  call.once("cancelled", () => {
    // The client cancels at its deadline, which is ours less the request's transit (we count from
    // its arrival): a cancellation that close to our deadline is the deadline passing.
    if (deadline - Date.now() <= DEADLINE_SLACK_MS) expire();
    else controller.abort(new StatusError(grpc.status.CANCELLED, "the call was cancelled"));
  });
  const context = { signal: controller.signal, deadline, metadata: call.metadata, peer: call.getPeer() };
  return { context, done: () => clearTimeout(timer) };
}

function toServiceError(e: unknown): Partial<grpc.ServiceError> {
  if (e instanceof StatusError) return { code: e.code, details: e.message };
  return { code: grpc.status.UNKNOWN, details: e instanceof Error ? e.message : String(e) };
}

/**
 * The grpc-js implementation of `service` from `handlers`. A method without a handler (any streaming
 * method included) answers UNIMPLEMENTED naming itself. `track` wraps every handler's work, so a
 * server can count in-flight calls and wait for them when it shuts down.
 */
export function serviceImplementation<S extends GenServiceMethods>(
  service: GenService<S>,
  handlers: UnaryHandlers<S>,
  track: <T>(work: Promise<T>) => Promise<T> = (work) => work,
): grpc.UntypedServiceImplementation {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = (handlers as Record<string, UnaryHandlers<S>[UnaryNames<S>]>)[method.localName];
    const unimplemented = {
      code: grpc.status.UNIMPLEMENTED,
      details: `${method.parent.typeName}/${method.name} is not implemented by errdefer's sandbox runner`,
    };
    if (method.methodKind !== "unary" || handler === undefined) {
      implementation[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback?: unknown) => {
        if (typeof callback === "function") (callback as grpc.sendUnaryData<unknown>)(unimplemented);
        else
          (call as unknown as grpc.ServerWritableStream<unknown, unknown>).destroy(
            Object.assign(new Error(unimplemented.details), unimplemented),
          );
      };
      continue;
    }
    implementation[method.localName] = (
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const { context, done } = callContext(call);
      track(handler(call.request as never, context))
        .finally(done)
        .then(
          (response) => callback(null, create(method.output, response as MessageInitShape<DescMessage>)),
          (e: unknown) => callback(toServiceError(e)),
        );
    };
  }
  return implementation;
}

/** Options of one client call. */
export interface ClientCallOptions {
  /** Milliseconds the server has to answer (sent as the gRPC deadline). */
  readonly timeoutMs?: number;
  /** Cancels the call: the server sees it as a client cancellation. */
  readonly signal?: AbortSignal;
}

/** A promise client with one method per unary method of the service. */
export type UnaryClient<S extends GenServiceMethods> = {
  [K in UnaryNames<S>]: (
    request: MessageInitShape<S[K]["input"]>,
    options?: ClientCallOptions,
  ) => Promise<MessageShape<S[K]["output"]>>;
} & { close(): void };

/**
 * A typed client of `service` at `target` (`unix:///path/to.sock`): each call resolves to the
 * response message or rejects with grpc-js's ServiceError (`code`, `details`).
 */
export function unaryClient<S extends GenServiceMethods>(service: GenService<S>, target: string): UnaryClient<S> {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const methods: Record<string, unknown> = { close: () => client.close() };
  for (const method of service.methods) {
    if (method.methodKind !== "unary") continue;
    const input = codec(method.input);
    const output = codec(method.output);
    methods[method.localName] = (request: MessageInitShape<DescMessage>, options: ClientCallOptions = {}) =>
      new Promise((resolve, reject) => {
        const callOptions: grpc.CallOptions =
          options.timeoutMs === undefined ? {} : { deadline: Date.now() + options.timeoutMs };
        const call = client.makeUnaryRequest(
          path(method),
          input.serialize,
          output.deserialize,
          create(method.input, request),
          new grpc.Metadata(),
          callOptions,
          (error, response) => (error ? reject(error) : resolve(response)),
        );
        options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
      });
  }
  return methods as UnaryClient<S>;
}
