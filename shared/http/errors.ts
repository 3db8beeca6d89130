// HTTP — typed errors that carry their status. Anything without one becomes a generic 500 whose details
// never reach the client.

export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly fields?: Record<string, string>;
  readonly [extra: string]: unknown;
}

export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toBody(): ErrorBody {
    return { ...this.extra, error: this.code, message: this.message };
  }
}

/** 400 with one message per offending field. */
export class BadRequestError extends HttpError {
  constructor(
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(400, 'bad_request', message);
  }

  override toBody(): ErrorBody {
    return { error: this.code, message: this.message, fields: this.fields };
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'A valid bearer token is required') {
    super(401, 'unauthorized', message, { 'www-authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends HttpError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends HttpError {
  constructor(message: string, extra: Record<string, unknown> = {}) {
    super(413, 'payload_too_large', message, {}, extra);
  }
}

/** 503 with `Retry-After`: the caller should come back later. */
export class ServiceUnavailableError extends HttpError {
  constructor(message: string, retryAfterSeconds: number, extra: Record<string, unknown> = {}) {
    super(503, 'service_unavailable', message, { 'retry-after': String(retryAfterSeconds) }, extra);
  }
}

/** 429 with `Retry-After` (whole seconds): the caller spent its allowance and may come back then. */
export class TooManyRequestsError extends HttpError {
  constructor(message: string, retryAfterSeconds: number, extra: Record<string, unknown> = {}) {
    super(429, 'too_many_requests', message, { 'retry-after': String(retryAfterSeconds) }, extra);
  }
}
