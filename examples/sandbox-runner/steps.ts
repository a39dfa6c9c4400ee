// The steps of RunPodSandbox and their cleanups, by name: what progress output, the step log,
// failpoints and `sandbox-runner steps` refer to.
export interface StepName {
  readonly step: string;
  /** The cleanup that undoes it, when there is one. */
  readonly cleanup: string | undefined;
  readonly does: string;
}

export const STEPS: readonly StepName[] = [
  { step: "reserve-name", cleanup: "release-name", does: "reserve the sandbox name (two runs of one name: one wins)" },
  { step: "create-record", cleanup: "delete-record", does: "write the sandbox record (NOTREADY)" },
  { step: "create-netns", cleanup: "remove-netns", does: "create the network namespace (guarded removal)" },
  { step: "cni-add", cleanup: "cni-del", does: "CNI ADD through the plugins (DEL registered first)" },
  { step: "create-bundle", cleanup: "remove-bundle", does: "write the OCI bundle of the pause container" },
  { step: "start-container", cleanup: "stop-container", does: "runc create + start of the pause process" },
  { step: "mark-ready", cleanup: undefined, does: "mark the sandbox READY: ownership passes to the store" },
];

const cleanupOf = new Map(STEPS.map((s) => [s.step, s.cleanup]));

/** The cleanup name of a step (its undo), or the step name when it has none. */
export function cleanupName(step: string): string {
  return cleanupOf.get(step) ?? step;
}

/** A failpoint on every write of the journal (a storage fault): `error` or `crash`. */
export const JOURNAL_WRITE = "journal-write";

/** Every name a failpoint may target. */
export const FAILPOINT_TARGETS: ReadonlySet<string> = new Set([
  ...STEPS.flatMap((s) => (s.cleanup === undefined ? [s.step] : [s.step, s.cleanup])),
  JOURNAL_WRITE,
]);
