// A CodeMirror 6 editor in its own shadow root. CodeMirror writes its styles through
// style-mod: into a <style> element for a document (which our CSP, style-src 'self',
// refuses), but into a constructed stylesheet (adoptedStyleSheets, CSSOM, which CSP does
// not govern) for a shadow root. So every editor lives in a shadow root, and the page's
// policy stays as it is. The same reason replaces lint's data: URL icons (img-src is
// 'self' too) with plain CSS in the theme below.
import {
  EditorView, EditorState, Compartment, StateEffect, StateField, Decoration, Prec,
  basicSetup, keymap, indentWithTab, indentUnit, python, json, setDiagnostics, lintGutter,
  EditorSelection, ensureSyntaxTree, HighlightStyle, syntaxHighlighting, tags as t,
} from "../../vendor/codemirror.js";

// Colours that keep 4.5:1 against the editor's backgrounds (white, the active line, a
// bot break's line), which CodeMirror's default style does not for every token.
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.moduleKeyword], color: "#6f1d9b" },
  { tag: [t.string, t.docString], color: "#9a1414" },
  { tag: [t.escape, t.special(t.string), t.regexp], color: "#7a4100" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "#0f5d28" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "#56606f", fontStyle: "italic" },
  { tag: [t.function(t.definition(t.variableName)), t.definition(t.variableName)], color: "#0a4ea3" },
  { tag: [t.className, t.typeName, t.definition(t.className)], color: "#7a4100" },
  { tag: [t.propertyName], color: "#0b3d91" },
  { tag: [t.meta, t.annotation], color: "#5e4200" },
  { tag: t.invalid, color: "#b71c1c" },
]);

const theme = EditorView.theme({
  "&": {
    height: "100%", fontSize: "13.5px", background: "#fff", border: "1px solid #e3e6eb", borderRadius: "10px",
    overflow: "hidden",
  },
  "&.cm-focused": { outline: "2px solid #1f6feb", outlineOffset: "1px" },
  ".cm-scroller": {
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.5",
  },
  ".cm-gutters": { background: "#f7f8fa", color: "#5b6474", borderRight: "1px solid #e3e6eb" },
  ".cm-activeLineGutter": { background: "#e8f1fe" },
  ".cm-activeLine": { background: "#f5f8ff" },
  ".cm-lintRange-error": {
    backgroundImage: "none", textDecoration: "underline wavy #c62828",
    textDecorationSkipInk: "none", textUnderlineOffset: "3px",
  },
  ".cm-lintRange-error:empty": { borderBottom: "2px solid #c62828" },
  ".cm-lint-marker": { width: "0.9em", height: "0.9em" },
  ".cm-lint-marker-error": {
    content: "normal", background: "#c62828", borderRadius: "50%",
    boxShadow: "0 0 0 2px #fdecec",
  },
  ".cm-tooltip-lint": { maxWidth: "34rem" },
  ".cm-diagnostic-error": { borderLeftColor: "#c62828" },
  ".cm-break-line": { background: "#fdecec" },
  ".cm-break-line.cm-activeLine": { background: "#fbdcdc" },
});

const setBreak = StateEffect.define();
// The line a bot break happened on, kept as a line decoration until the code changes.
const breakField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (e.is(setBreak)) {
        if (e.value === null) return Decoration.none;
        const line = tr.state.doc.line(Math.min(Math.max(1, e.value), tr.state.doc.lines));
        return Decoration.set([Decoration.line({ class: "cm-break-line" }).range(line.from)]);
      }
    }
    return tr.docChanged ? Decoration.none : deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

// Server positions are 1-based line and column; CodeMirror's are document offsets.
function offsetAt(doc, line, column) {
  const l = doc.line(Math.min(Math.max(1, line || 1), doc.lines));
  return Math.min(l.from + Math.max(0, (column || 1) - 1), l.to);
}

/** Open an editor in `host`. Returns a small handle; see the methods below. */
export function createEditor(host, { doc, language, label, onChange, keys = {} }) {
  const root = host.shadowRoot || host.attachShadow({ mode: "open" });
  const mount = document.createElement("div");
  mount.style.height = "100%"; // CSSOM, which the CSP allows (a style attribute it would not)
  root.replaceChildren(mount);
  const readOnly = new Compartment();
  const bindings = Object.entries(keys).map(([key, run]) => ({
    key, preventDefault: true, run: () => { run(); return true; },
  }));
  const view = new EditorView({
    parent: mount,
    state: EditorState.create({
      doc,
      extensions: [
        Prec.highest(keymap.of(bindings)),
        basicSetup,
        keymap.of([indentWithTab]),
        indentUnit.of("    "),
        language === "json" ? json() : python(),
        syntaxHighlighting(highlight),
        lintGutter(),
        breakField,
        theme,
        readOnly.of(EditorState.readOnly.of(false)),
        // tabindex: already in the tab order as contenteditable; said so for checkers (axe).
        EditorView.contentAttributes.of({ "aria-label": label, tabindex: "0" }),
        EditorView.updateListener.of((u) => { if (u.docChanged && onChange) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Problems as the server gives them: [{line, column, message}] (1-based). */
    setProblems(problems) {
      const d = view.state.doc;
      const diagnostics = problems.map((p) => {
        const from = offsetAt(d, p.line, p.column);
        const lineEnd = d.lineAt(from).to;
        // Underline the word at the column; at a bracket or an operator, the rest of the
        // line (one character of wavy line is easy to miss).
        let to = from;
        while (to < lineEnd && /\w/.test(d.sliceString(to, to + 1))) to += 1;
        if (to - from <= 1) to = from + d.sliceString(from, lineEnd).trimEnd().length;
        if (to === from) to = Math.min(from + 1, lineEnd);
        return { from, to, severity: "error", message: p.message, source: `line ${p.line}` };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    /** Where the parser first found the text broken, {line, column} (1-based), or null. */
    firstSyntaxError() {
      const state = view.state;
      const tree = ensureSyntaxTree(state, state.doc.length, 500);
      let at = null;
      if (tree) {
        tree.iterate({
          enter(node) {
            if (at === null && node.type.isError) at = node.from;
            return at === null;
          },
        });
      }
      if (at === null) return null;
      const line = state.doc.lineAt(at);
      return { line: line.number, column: at - line.from + 1 };
    },
    markBreak(line) { view.dispatch({ effects: setBreak.of(line || null) }); },
    goTo(line, column) {
      const pos = offsetAt(view.state.doc, line, column);
      view.dispatch({ selection: EditorSelection.cursor(pos), scrollIntoView: true });
      view.focus();
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
