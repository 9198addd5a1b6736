// Cleanup that runs every step whatever the others do: kernel tests must remove their cgroups and
// processes even when one step fails, and still report every failure at the end.

export interface CleanupSteps {
  /** Errors of the steps run so far. */
  readonly errors: unknown[];
  /** Runs one step; a failure is recorded, not thrown. */
  attempt(f: () => Promise<void> | void): Promise<void>;
}

export function cleanupSteps(): CleanupSteps {
  const errors: unknown[] = [];
  return {
    errors,
    async attempt(f) {
      try {
        await f();
      } catch (err) {
        errors.push(err);
      }
    },
  };
}
