// The SDK's public surface. The wire types are generated from proto/ (`make web-types`).
export { Backoff, type BackoffOptions } from "./backoff.js";
export { PmClient, PROTOCOL_VERSION, expiryOf, type ClientEvents, type ClientStatus, type PmClientOptions, type WebSocketFactory } from "./client.js";
export { ANSWERED_BY, type CommandInput, type CommandName, type CommandResult } from "./commands.js";
export { ClientError, ConnectionLost, RequestTimeout, ServerError } from "./errors.js";
export { Pacer } from "./pacing.js";
export { Positions } from "./positions.js";
export * from "./gen/pm_proto/v1/envelope_pb.js";
export * from "./gen/pm_proto/v1/commands_pb.js";
export * from "./gen/pm_proto/v1/entities_pb.js";
export * from "./gen/pm_proto/v1/events_pb.js";
