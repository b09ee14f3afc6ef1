// Where the board's access token comes from. It lives in memory only (never localStorage):
//  - a development link, `/#token=<token>` (what `pm token --link` prints), kept in the URL
//    fragment, which is never sent to a server, so a reload signs in again;
//  - built-in sign-in (PM_SIGNIN=true): POST /v1/auth/login; the refresh token stays in its
//    HttpOnly cookie, and POST /v1/auth/refresh trades it for a new access token on a reload and
//    before the old one expires.

export interface Session {
  accessToken: string;
  /** Gives a valid access token: refreshes over HTTP when the session came from sign-in. */
  token: () => Promise<string>;
  signOut: () => Promise<void>;
}

interface SessionBody {
  access_token: string;
}

export function fromFragment(hash: string): Session | undefined {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token");
  if (token === null || token === "") return undefined;
  return {
    accessToken: token,
    token: () => Promise.resolve(token),
    signOut: () => {
      history.replaceState(null, "", location.pathname);
      return Promise.resolve();
    },
  };
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
}

function cookieSession(first: string): Session {
  let current = first;
  return {
    accessToken: first,
    token: async () => {
      const response = await post("/v1/auth/refresh", {});
      if (response.ok) current = ((await response.json()) as SessionBody).access_token;
      return current;
    },
    signOut: async () => {
      await post("/v1/auth/logout", {});
    },
  };
}

/** The session the refresh cookie still opens, if any (a reload after sign-in). */
export async function resume(): Promise<Session | undefined> {
  try {
    const response = await post("/v1/auth/refresh", {});
    if (!response.ok) return undefined;
    return cookieSession(((await response.json()) as SessionBody).access_token);
  } catch {
    return undefined;
  }
}

/** Sign in with a password; throws an Error with the server's message when refused. */
export async function signIn(tenant: string, email: string, password: string): Promise<Session> {
  const response = await post("/v1/auth/login", { tenant, email, password });
  if (response.status === 404) throw new Error("sign-in is not enabled on this server (PM_SIGNIN)");
  const body = (await response.json()) as SessionBody & { error?: { message: string } };
  if (!response.ok) throw new Error(body.error?.message ?? `sign-in failed (${String(response.status)})`);
  return cookieSession(body.access_token);
}
