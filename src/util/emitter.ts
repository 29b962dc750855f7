import { EventEmitter } from 'eventemitter3';
// typed-emitter ships CommonJS-style types: its default export is reached through the namespace.
import type * as TypedEmitterTypes from 'typed-emitter';

export type EventMap = TypedEmitterTypes.EventMap;

/** The typed view of eventemitter3: only the methods it really has. */
export type TypedEmitter<Events extends EventMap> = Pick<
  TypedEmitterTypes.default<Events>,
  'on' | 'once' | 'off' | 'emit' | 'addListener' | 'removeListener' | 'removeAllListeners' | 'listeners' | 'listenerCount' | 'eventNames'
>;

/** Base class for the library's emitters: `class X extends Emitter<XEvents> {}`. */
export const Emitter = EventEmitter as unknown as new <Events extends EventMap>() => TypedEmitter<Events>;
