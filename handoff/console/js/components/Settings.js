// The agent's switches (sound, notifications) and the keyboard help.
import { html } from "../lib.js";
import { Dialog } from "./Dialog.js";
import { notificationsSupported } from "../alerts.js";

export function SettingsDialog({ ctl, s }) {
  const p = ctl.prefs;
  const permission = notificationsSupported() ? Notification.permission : "unsupported";
  const away = s.me && Number(s.me.away_after_seconds);
  return html`
    <${Dialog} title="Settings" onClose=${() => ctl.closeDialog()}>
      <div class="stack">
        <label class="switch"><input type="checkbox" checked=${p.sound}
          onChange=${(e) => ctl.setPref("sound", e.currentTarget.checked)} /> Sound for new conversations</label>
        <label class="switch"><input type="checkbox" checked=${p.notifications}
          onChange=${(e) => ctl.setPref("notifications", e.currentTarget.checked)} /> Browser notifications while this tab is hidden</label>
        ${permission === "denied" && html`<p class="small warn-text">The browser blocks notifications for this site; allow them in its site settings.</p>`}
        <p class="small muted">${away ? `You are set to Away after ${Math.round(away / 60) || away + " s"}${away >= 60 ? " min" : ""} without activity, and back to Online when you act.` : "Auto-away is off on this server."}</p>
      </div>
    <//>`;
}

export function HelpDialog({ ctl }) {
  return html`
    <${Dialog} title="Keyboard shortcuts" onClose=${() => ctl.closeDialog()}>
      <dl class="keys">
        <div><dt><kbd>Enter</kbd></dt><dd>Send the message</dd></div>
        <div><dt><kbd>Shift</kbd> + <kbd>Enter</kbd></dt><dd>New line</dd></div>
        <div><dt><kbd>Alt</kbd> + <kbd>↑</kbd> / <kbd>↓</kbd></dt><dd>Previous / next conversation</dd></div>
        <div><dt><kbd>Ctrl</kbd> + <kbd>[</kbd> / <kbd>]</kbd></dt><dd>Previous / next conversation</dd></div>
        <div><dt><kbd>/</kbd> shortcut</dt><dd>Canned response: <kbd>↑</kbd> <kbd>↓</kbd> choose, <kbd>Enter</kbd> or <kbd>Tab</kbd> insert, <kbd>Esc</kbd> dismiss</dd></div>
        <div><dt><kbd>Esc</kbd></dt><dd>Close a dialog</dd></div>
        <div><dt><kbd>Tab</kbd></dt><dd>Move between controls; the conversation list is a list of buttons</dd></div>
      </dl>
    <//>`;
}
