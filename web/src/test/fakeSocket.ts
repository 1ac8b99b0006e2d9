/**
 * A loopback stand-in for socket.io-client's Socket: records what the client emits, lets a test
 * play the server (events, acks, disconnects). Only the surface LiveSession uses.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { SocketLike } from '../realtime/session';

export interface Emitted {
  event: string;
  args: any[];
  ack?: (...args: any[]) => void;
}

export class FakeSocket implements SocketLike {
  connected = false;
  active = true;
  emitted: Emitted[] = [];
  private handlers = new Map<string, Set<(...args: any[]) => void>>();

  on(event: string, fn: (...args: any[]) => void): this {
    const set = this.handlers.get(event) ?? new Set();
    set.add(fn);
    this.handlers.set(event, set);
    return this;
  }

  off(event: string, fn?: (...args: any[]) => void): this {
    if (fn) this.handlers.get(event)?.delete(fn);
    else this.handlers.delete(event);
    return this;
  }

  emit(event: string, ...args: any[]): this {
    const last = args[args.length - 1];
    if (typeof last === 'function') this.emitted.push({ event, args: args.slice(0, -1), ack: (...a: any[]) => last(...a) });
    else this.emitted.push({ event, args });
    return this;
  }

  /** socket.timeout(ms).emit(...): acks are called as (err, ...args) */
  timeout(_ms: number): { emit(event: string, ...args: any[]): unknown } {
    return {
      emit: (event: string, ...args: any[]) => {
        const cb = args[args.length - 1] as (...a: any[]) => void;
        this.emitted.push({ event, args: args.slice(0, -1), ack: (...a: any[]) => cb(null, ...a) });
        return this;
      },
    };
  }

  connect(): this {
    return this;
  }

  disconnect(): this {
    this.connected = false;
    return this;
  }

  // ---- the server side

  serverConnect(): void {
    this.connected = true;
    this.fire('connect');
  }

  serverDrop(reason = 'transport close'): void {
    this.connected = false;
    this.fire('disconnect', reason);
  }

  fire(event: string, ...args: any[]): void {
    for (const fn of [...(this.handlers.get(event) ?? [])]) fn(...args);
  }

  sent(event: string): Emitted[] {
    return this.emitted.filter((e) => e.event === event);
  }

  last(event: string): Emitted {
    const list = this.sent(event);
    const e = list[list.length - 1];
    if (!e) throw new Error(`nothing emitted as ${event}`);
    return e;
  }
}
