// Sign in with a password (PM_SIGNIN=true), or paste a development token from `pm token`.
import { useState } from "preact/hooks";
import { fromFragment, signIn, type Session } from "../auth.js";

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [tenant, setTenant] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    setError(undefined);
    signIn(tenant, email, password).then(onSignedIn, (e: unknown) => {
      setError(e instanceof Error ? e.message : String(e));
    });
  };
  const useToken = (event: SubmitEvent) => {
    event.preventDefault();
    location.hash = `token=${token.trim()}`;
    const session = fromFragment(location.hash);
    if (session !== undefined) onSignedIn(session);
  };

  return (
    <main class="centered signin">
      <h1>pm board</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Organisation <input name="tenant" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} required />
        </label>
        <label>
          Email <input name="email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
        </label>
        <label>
          Password
          <input name="password" type="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        <button type="submit">Sign in</button>
        {error !== undefined && <p class="error" role="alert">{error}</p>}
      </form>
      <form onSubmit={useToken} aria-label="Development token" class="devtoken">
        <label>
          Development token (<code>pm token</code>)
          <input name="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        </label>
        <button type="submit">Open the board</button>
      </form>
    </main>
  );
}
