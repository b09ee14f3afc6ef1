// The type of each command's input and result, from the generated answers table: call("x", ...)
// takes what ClientMessage.command's case "x" takes and returns the Reply.result that answers it.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ANSWERED_BY } from "./gen/answers.js";
import type { ClientMessageSchema, Reply } from "./gen/pm_proto/v1/envelope_pb.js";

export { ANSWERED_BY, SESSION_COMMANDS } from "./gen/answers.js";

/** Every command's name (a ClientMessage.command case, lowerCamelCase). */
export type CommandName = keyof typeof ANSWERED_BY;

type CommandInit = NonNullable<MessageInitShape<typeof ClientMessageSchema>["command"]>;

/** What a command takes: its message's fields (omitted ones take their defaults). */
export type CommandInput<C extends CommandName> = NonNullable<
  Extract<CommandInit, { case: C }>["value"]
>;

/** What a command returns: the Reply.result message that answers it. */
export type CommandResult<C extends CommandName> = Extract<
  Reply["result"],
  { case: (typeof ANSWERED_BY)[C] }
>["value"];

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(ANSWERED_BY, name);
}
