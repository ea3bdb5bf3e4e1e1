// The one entry of handoff/console/vendor/codemirror.js (bundled by scripts/vendor.sh):
// everything the console's editors use, from the pinned packages in package.json.
export { basicSetup, minimalSetup } from "codemirror";
export * from "@codemirror/state";
export * from "@codemirror/view";
export * from "@codemirror/language";
export * from "@codemirror/commands";
export * from "@codemirror/lint";
export { python, pythonLanguage } from "@codemirror/lang-python";
export { json, jsonLanguage, jsonParseLinter } from "@codemirror/lang-json";
export { tags } from "@lezer/highlight";
