// Core: the errors of the streaming module.

/** Another writer logged a frame under one of these seqs first: read the log's head and renumber. */
export class RunSeqConflictError extends Error {
  constructor(runId: string, options?: ErrorOptions) {
    super(`another writer logged frames of run ${runId} first`, options);
    this.name = 'RunSeqConflictError';
  }
}
