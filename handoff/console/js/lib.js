// The component toolkit: Preact with hooks, and htm for templates (tagged template
// literals, parsed without eval, so the strict CSP holds). Strings interpolated as
// children become text nodes: nothing the person or a bot wrote is parsed as HTML.
import { h, render, Fragment } from "../vendor/preact.module.js";
import {
  useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect,
} from "../vendor/hooks.module.js";
import htm from "../vendor/htm.module.js";

export const html = htm.bind(h);
export { h, render, Fragment, useState, useEffect, useRef, useMemo, useCallback, useLayoutEffect };
