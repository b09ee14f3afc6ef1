// What the SDK throws. A server's Error reply becomes a ServerError carrying it whole, so a
// caller reads `code`, `retryAfterMs`, `current` (the row a CONFLICT found) and the rest.
import type { Error as PbError } from "./gen/pm_proto/v1/envelope_pb.js";
import { ErrorCode } from "./gen/pm_proto/v1/envelope_pb.js";

/** Base of every error the SDK raises. */
export class ClientError extends Error {
  override name = "ClientError";
}

/** The server answered a request with an Error. */
export class ServerError extends ClientError {
  override name = "ServerError";
  readonly code: ErrorCode;
  readonly codeName: string;

  constructor(
    readonly error: PbError,
    readonly command: string,
  ) {
    const names = ErrorCode as unknown as Record<number, string | undefined>;
    const codeName = names[error.code] ?? String(error.code);
    super(`${command}: ${codeName}: ${error.message}`);
    this.code = error.code;
    this.codeName = codeName;
  }
}

/** No answer within the request's time, reconnects included. Retry with `requestId`. */
export class RequestTimeout extends ClientError {
  override name = "RequestTimeout";

  constructor(
    readonly command: string,
    readonly requestId: string,
    readonly timeoutMs: number,
  ) {
    super(`${command} (request ${requestId}) got no answer within ${String(timeoutMs)} ms`);
  }
}

/** The connection is gone for good, or dropped under a command that belongs to it. */
export class ConnectionLost extends ClientError {
  override name = "ConnectionLost";

  constructor(
    message: string,
    readonly closeCode?: number,
  ) {
    super(message);
  }
}
