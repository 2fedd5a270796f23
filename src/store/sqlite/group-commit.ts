// Group commit: write calls made within one turn of the event loop are handed together, in call order, to one
// commit (one transaction), and each call learns its own result. What a commit does with the calls is the caller's.

/** One commit of a group: returns each call's result (same order) or throws to fail every call of the group. */
export type CommitGroup<J, R> = (jobs: readonly J[]) => R[];

export class GroupCommit<J, R> {
  private jobs: J[] = [];
  private waiters: { resolve: (result: R) => void; reject: (error: unknown) => void }[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly commit: CommitGroup<J, R>) {}

  /** Calls queued for the next commit, in call order. */
  get queued(): readonly J[] {
    return this.jobs;
  }

  /** Queues `job` for the commit at the end of this turn of the event loop; resolves with its own result. */
  add(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.jobs.push(job);
      this.waiters.push({ resolve, reject });
      this.scheduled ??= setImmediate(() => this.commitNow());
    });
  }

  /** Commits what is queued now (before a read, a flush, a close); a no-op when nothing is. Never throws. */
  commitNow(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const jobs = this.jobs;
    const waiters = this.waiters;
    this.jobs = [];
    this.waiters = [];
    if (jobs.length === 0) return;
    let results: R[];
    try {
      results = this.commit(jobs);
    } catch (error) {
      for (const w of waiters) w.reject(error);
      return;
    }
    waiters.forEach((w, i) => w.resolve(results[i]));
  }
}
