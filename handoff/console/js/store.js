// One state object for the whole console and a hook to read it. Changes go through
// update(fn): fn gets the current state and returns the parts that change, so every
// component re-renders from one consistent snapshot.
import { useEffect, useState } from "./lib.js";
import { parseHash } from "./pages.js";

export function createStore(initial) {
  let state = initial;
  const listeners = new Set();
  return {
    get: () => state,
    update(fn) {
      const patch = typeof fn === "function" ? fn(state) : fn;
      if (!patch) return;
      state = { ...state, ...patch };
      for (const listener of listeners) listener(state);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore(store) {
  const [state, setState] = useState(store.get());
  useEffect(() => {
    setState(store.get());
    return store.subscribe(setState);
  }, [store]);
  return state;
}

export function initialState() {
  return {
    screen: "signin", // signin | workspace
    route: parseHash(location.hash), // {page: inbox|dashboard|actions|admin, rest: [...]} (pages.js)
    notice: null, // a message for the sign-in screen
    token: null,
    me: null, // GET /agents/me
    connection: "offline", // connecting | online | reconnecting | offline
    status: "offline",
    autoAway: false,
    queue: {}, // bot_id -> [queue entry]
    offline: [], // offline messages (unhandled)
    convs: {}, // conversation_id -> conversation record (conversations.js)
    order: [], // conversation ids, newest first
    selected: null,
    canned: {}, // bot_id -> [canned response]
    dialog: null, // {kind: transfer|close|canned|settings|help|watch-transfer, ...}
    watching: null, // the conversation a supervisor watches read-only (oversight.js)
    errors: {}, // control key -> message shown beside it
    showDetails: false,
  };
}
