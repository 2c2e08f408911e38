// Listeners for {type, detail} events, like an EventTarget's. Not an EventTarget subclass:
// `new EventTarget()` needs Safari 14, and customers' phones may be older.

export class Emitter {
  constructor() {
    this._listeners = {};
  }

  addEventListener(type, fn) {
    (this._listeners[type] = this._listeners[type] || []).push(fn);
  }

  removeEventListener(type, fn) {
    this._listeners[type] = (this._listeners[type] || []).filter((f) => f !== fn);
  }

  _emit(type, detail) {
    for (const fn of (this._listeners[type] || []).slice()) {
      try {
        fn({ type, detail });
      } catch (err) {
        setTimeout(() => {
          throw err; // reported like a listener error of a real EventTarget, without stopping the others
        });
      }
    }
  }
}
