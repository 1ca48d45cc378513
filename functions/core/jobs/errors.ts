// Core: why a queued job failed, as the batch processor reports it in the logs.

/** Base class of job failures the processor recognizes. */
class JobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The message can never succeed as sent (not JSON, not an envelope, a payload its type refuses).
 * It is still reported as failed, so the queue's redrive policy moves it to the DLQ for inspection.
 */
export class PoisonMessageError extends JobError {}

/** No handler is registered for the envelope's type on this queue. */
export class UnknownJobTypeError extends JobError {
  readonly jobType: string;
  constructor(jobType: string, knownTypes: readonly string[], options?: ErrorOptions) {
    const known = knownTypes.length > 0 ? knownTypes.join(', ') : 'none registered yet';
    super(`no handler for job type '${jobType}' on this queue (known: ${known})`, options);
    this.jobType = jobType;
  }
}
