// Entry point: one store, one controller, the app rendered into #app.
import { html, render } from "./lib.js";
import { createStore, initialState } from "./store.js";
import { Controller } from "./controller.js";
import { App } from "./components/App.js";

const store = createStore(initialState());
const controller = new Controller(store);
const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} store=${store} ctl=${controller} />`, root);
window.addEventListener("hashchange", () => controller.followHash());
controller.resume();
