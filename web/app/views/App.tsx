// Sign-in first; then one PmClient for the page's life, and the board over it.
import { useEffect, useState } from "preact/hooks";
import { PmClient } from "../../sdk/client.js";
import { fromFragment, resume, type Session } from "../auth.js";
import { BoardCache } from "../cache.js";
import { Board } from "../store.js";
import { Shell } from "./Shell.js";
import { SignIn } from "./SignIn.js";

function claimsOf(token: string): { tenant: string; sub: string } | undefined {
  try {
    const payload = token.split(".").at(1) ?? "";
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as Record<string, unknown>;
    const { tenant, sub } = claims;
    return typeof tenant === "string" && typeof sub === "string" ? { tenant, sub } : undefined;
  } catch {
    return undefined;
  }
}

function socketUrl(): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/ws`;
}

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => fromFragment(location.hash));
  const [checking, setChecking] = useState(session === undefined);
  const [board, setBoard] = useState<Board | undefined>(undefined);
  const [failure, setFailure] = useState<string | undefined>(undefined);

  useEffect(() => {
    if (session !== undefined) return;
    void resume().then((found) => {
      setSession(found);
      setChecking(false);
    });
  }, []);

  useEffect(() => {
    if (session === undefined) return;
    const pm = new PmClient({ url: socketUrl(), token: session.token });
    // The cache is per tenant and user, read from the token's claims before connecting, so
    // the last board paints before the network has answered anything.
    const claims = claimsOf(session.accessToken);
    const next = new Board(pm, claims === undefined ? undefined : BoardCache.for(claims.tenant, claims.sub));
    setBoard(next);
    next
      .start()
      .catch((error: unknown) => {
        setFailure(String(error));
      });
    return () => {
      pm.close();
    };
  }, [session]);

  if (failure !== undefined) {
    return (
      <main class="centered">
        <p class="error" role="alert">Could not open the board: {failure}</p>
        <button onClick={() => location.reload()}>Try again</button>
      </main>
    );
  }
  if (session === undefined) {
    return checking ? <p class="loading">Loading…</p> : <SignIn onSignedIn={setSession} />;
  }
  if (board === undefined) return <p class="loading">Connecting…</p>;
  return (
    <Shell
      board={board}
      onSignOut={() => {
        void Promise.all([session.signOut(), board.cache?.clear()]).then(() => {
          location.hash = "";
          location.reload();
        });
      }}
    />
  );
}
