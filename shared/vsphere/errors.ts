// vSphere adapter — errors: the typed failures every SOAP call can end in, and the redaction that keeps
// passwords and session cookies out of their messages.

/** Base class of every error the vSphere client throws; `method` is the SOAP method, when known. */
export class VsphereError extends Error {
  readonly method: string | undefined;
  constructor(message: string, opts: { method?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.method = opts.method;
  }
}

/**
 * A SOAP fault answered by vCenter/ESXi. `faultType` is the vim25 fault type without the `Fault`
 * element suffix (`InvalidLogin`, `NotAuthenticated`, `ManagedObjectNotFound`, `InvalidArgument` …);
 * `detail` holds the fault's decoded fields (e.g. `invalidProperty`), `faultString` the server's text.
 */
export class SoapFault extends VsphereError {
  readonly faultType: string;
  readonly faultCode: string;
  readonly faultString: string;
  readonly detail: Record<string, unknown>;
  constructor(
    args: { faultType: string; faultCode: string; faultString: string; detail: Record<string, unknown> },
    method?: string,
  ) {
    super(
      `${method ?? 'SOAP call'} failed: ${args.faultType}${args.faultString ? ` (${args.faultString})` : ''}`,
      {
        method,
      },
    );
    this.faultType = args.faultType;
    this.faultCode = args.faultCode;
    this.faultString = args.faultString;
    this.detail = args.detail;
  }
}

/** The session is missing, expired or was terminated (fault `NotAuthenticated`), and re-login was impossible or failed. */
export class NotAuthenticatedError extends SoapFault {}

/**
 * WaitForUpdatesEx was given a version the collector does not know (`InvalidCollectorVersion`, or
 * `InvalidArgument` naming `version`): the caller should fall back to a full retrieval.
 */
export class InvalidVersionError extends SoapFault {}

/**
 * Narrows a decoded fault to the class callers branch on: NotAuthenticated → {@link NotAuthenticatedError};
 * InvalidCollectorVersion, or WaitForUpdatesEx's InvalidArgument on `version` → {@link InvalidVersionError}.
 */
export function toTypedFault(f: SoapFault): SoapFault {
  const args = {
    faultType: f.faultType,
    faultCode: f.faultCode,
    faultString: f.faultString,
    detail: f.detail,
  };
  if (f.faultType === 'NotAuthenticated') return new NotAuthenticatedError(args, f.method);
  if (f.faultType === 'InvalidCollectorVersion') return new InvalidVersionError(args, f.method);
  if (
    f.method === 'WaitForUpdatesEx' &&
    f.faultType === 'InvalidArgument' &&
    f.detail.invalidProperty === 'version'
  ) {
    return new InvalidVersionError(args, f.method);
  }
  return f;
}

/** The call did not complete within its timeout. */
export class TimeoutError extends VsphereError {
  readonly timeoutMs: number;
  constructor(method: string, timeoutMs: number) {
    super(`${method} timed out after ${timeoutMs} ms`, { method });
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired before the call completed. */
export class AbortedError extends VsphereError {}

/**
 * The call failed below SOAP: connection refused/reset, TLS failure, an HTTP status without a SOAP
 * fault, or a response that is not a SOAP envelope. `code` is the system error code or `HTTP_<status>`.
 */
export class NetworkError extends VsphereError {
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  constructor(
    message: string,
    opts: { method?: string; code?: string; statusCode?: number; cause?: unknown },
  ) {
    super(message, opts);
    this.code = opts.code;
    this.statusCode = opts.statusCode;
  }
}

/** A task reached state `error`; `fault` is the task's fault, decoded. */
export class TaskError extends VsphereError {
  readonly task: string;
  readonly faultType: string;
  readonly fault: unknown;
  constructor(task: string, faultType: string, message: string, fault: unknown) {
    super(`task ${task} failed: ${faultType}${message ? ` (${message})` : ''}`);
    this.task = task;
    this.faultType = faultType;
    this.fault = fault;
  }
}

/**
 * Replaces every occurrence of each secret in `text` with `***`. Secrets shorter than 4 characters are
 * ignored, so a trivially short password cannot blank out ordinary words.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  // Session cookies may reach a message through a server echo; hide any vmware_soap_session value.
  return out.replace(/(vmware_soap_session=)("?)[^";\s]+\2/g, '$1***');
}
