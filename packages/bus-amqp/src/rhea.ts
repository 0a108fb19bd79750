/**
 * rhea (the AMQP 1.0 library) as the front uses it, behind the few types the front relies on.
 * rhea is written as a client first; the server-side parts used here — accepting a socket,
 * remote-initiated links, deliveries and outcomes — are its public API, and the internal fields
 * read (`local`, `remote`, `state`, `incoming`) are named where they are used.
 * @module
 */
import { createRequire } from 'node:module';

/** An AMQP message as rhea encodes and decodes it. */
export interface AmqpMessage {
  message_id?: unknown;
  correlation_id?: unknown;
  to?: string;
  subject?: string;
  reply_to?: string;
  content_type?: string;
  group_id?: string;
  reply_to_group_id?: string;
  absolute_expiry_time?: Date;
  ttl?: number;
  delivery_count?: number;
  message_annotations?: Record<string, unknown>;
  application_properties?: Record<string, unknown>;
  body?: unknown;
  [k: string]: unknown;
}

export interface AmqpError {
  condition: string;
  description?: string;
  info?: Record<string, unknown>;
}

export interface RheaDelivery {
  id: number;
  tag: Buffer;
  format?: number;
  settled: boolean;
  remote_settled: boolean;
  remote_state?: { error?: AmqpError; [k: string]: unknown } & Record<string, unknown>;
  link: RheaLink;
  update(settled: boolean | undefined, state?: unknown): void;
  accept(): void;
  reject(error: AmqpError): void;
}

export interface RheaLink {
  name: string;
  credit: number;
  delivery_count: number;
  session: RheaSession;
  connection: RheaConnection;
  local: { attach: Record<string, unknown> & { properties?: Record<string, unknown> } };
  remote: {
    attach?: Record<string, unknown> & { source?: Terminus; target?: Terminus; properties?: Record<string, unknown> };
  };
  set_source(fields: Terminus | null): void;
  set_target(fields: Terminus | null): void;
  close(error?: AmqpError): void;
  attach(): void;
  is_open(): boolean;
  is_closed(): boolean;
  is_remote_open(): boolean;
  is_sender(): boolean;
  /** Sender only. */
  send(msg: AmqpMessage | Buffer, tag?: Buffer, format?: number): RheaDelivery;
  /** Sender only. */
  set_drained(drained: boolean): void;
  /** Sender only: a flow with drain arrived. */
  _draining?: boolean;
  /** Receiver only. */
  add_credit(n: number): void;
  _incomplete?: unknown;
}

export interface Terminus {
  address?: string | null;
  filter?: Record<string, unknown> | null;
  [k: string]: unknown;
}

export interface RheaSession {
  connection: RheaConnection;
  incoming: { on_transfer(frame: TransferFrame, receiver: RheaLink): void };
  local: { begin: Record<string, unknown> };
  end(error?: AmqpError): void;
  is_closed(): boolean;
}

export interface TransferFrame {
  performative: { delivery_id?: number; message_format?: number; more?: boolean; handle: number };
  payload?: Buffer;
}

export interface RheaConnection {
  options: Record<string, unknown>;
  local: { open: Record<string, unknown>; close: Record<string, unknown> };
  remote: { open?: Record<string, unknown> };
  socket?: { writableLength?: number };
  amqp_transport: unknown;
  transport: unknown;
  accept(socket: unknown): RheaConnection;
  close(error?: AmqpError): void;
  is_closed(): boolean;
  on(event: string, listener: (ctx: RheaContext) => void): void;
  _process(): void;
  _register(): void;
}

export interface RheaContext {
  connection: RheaConnection;
  session?: RheaSession;
  sender?: RheaLink;
  receiver?: RheaLink;
  delivery?: RheaDelivery;
  message?: AmqpMessage | Buffer;
  format?: number;
  error?: unknown;
}

interface RheaTypes {
  wrap_long(v: number | Buffer): unknown;
  wrap_int(v: number): unknown;
  wrap_uint(v: number): unknown;
  wrap_string(v: string): unknown;
  wrap_uuid(v: Buffer): unknown;
  wrap_array(values: unknown[], code: number, descriptors?: unknown): unknown;
  wrap_list(values: unknown[]): unknown;
  wrap_map(value: Record<string, unknown>): unknown;
  wrap_described(value: unknown, descriptor: number | string): unknown;
  wrap_symbol(v: string): unknown;
  wrap_timestamp(v: number): unknown;
  wrap_binary(v: Buffer): unknown;
  /** rhea's encoder (internal): `new Writer(buffer)`. */
  Writer: unknown;
}

interface Rhea {
  create_container(options?: Record<string, unknown>): RheaContainer;
  message: {
    encode(m: AmqpMessage): Buffer;
    decode(b: Buffer): AmqpMessage;
    data_section(b: Buffer): unknown;
    accepted(): { described(): unknown };
    rejected(fields: { error: AmqpError }): { described(): unknown };
  };
  types: RheaTypes;
  uuid_to_string(b: Buffer): string;
  string_to_uuid(s: string): Buffer;
}

export interface RheaContainer {
  id: string;
  sasl_server_mechanisms: Record<string, () => unknown>;
  create_connection(options: Record<string, unknown>): RheaConnection;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

export const rhea = createRequire(import.meta.url)('rhea') as Rhea;
export const { types, message: amqpMessage } = rhea;
