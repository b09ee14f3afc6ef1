// The SDK's public surface. The wire types are generated from proto/ (`make web`).
export * from "./gen/pm_proto/v1/envelope_pb.js";
export * from "./gen/pm_proto/v1/commands_pb.js";
export * from "./gen/pm_proto/v1/entities_pb.js";
export * from "./gen/pm_proto/v1/events_pb.js";
