// A Preact home for one CodeMirror editor (actions/editor.js). The editor owns its text;
// the parent reads and changes it through the handle given to `onReady`.
import { html, useEffect, useRef } from "../lib.js";
import { createEditor } from "./editor.js";

export function CodeEditor({ doc, language = "python", label, onReady, onChange, keys, className }) {
  const host = useRef(null);
  const latest = useRef({ onChange });
  latest.current = { onChange };
  useEffect(() => {
    const editor = createEditor(host.current, {
      doc, language, label, keys,
      onChange: (text) => latest.current.onChange && latest.current.onChange(text),
    });
    if (onReady) onReady(editor);
    return () => editor.destroy();
  }, []);
  return html`<div ref=${host} class=${"code-host " + (className || "")} data-language=${language}></div>`;
}
