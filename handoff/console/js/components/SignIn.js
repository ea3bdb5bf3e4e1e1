// Sign in with email and password (POST /api/v1/auth/login).
import { html, useState } from "../lib.js";
import { explain } from "../messages.js";

export function SignIn({ ctl, notice }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await ctl.signIn(email.trim(), password);
    } catch (err) {
      setError(explain(err));
      setBusy(false);
    }
  };
  return html`
    <main class="signin">
      <form class="card signin-card" onSubmit=${submit} aria-labelledby="signin-title">
        <div class="brand"><span class="brand-mark" aria-hidden="true">H</span> Handoff</div>
        <h1 id="signin-title">Sign in to the agent console</h1>
        ${notice && html`<p class="alert alert-info" role="status">${notice}</p>`}
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required
          value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required
          value=${password} onInput=${(e) => setPassword(e.currentTarget.value)}
          aria-describedby=${error ? "signin-error" : undefined} />
        ${error && html`<p id="signin-error" class="alert alert-error" role="alert">${error}</p>`}
        <button type="submit" class="btn btn-primary btn-block" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
        <p class="muted small">No account yet? An operator creates one with <code>handoff create-agent</code>.</p>
      </form>
    </main>`;
}
