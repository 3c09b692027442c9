/**
 * The login form a token-guarded server shows the UI instead of a page: one password field for the token,
 * the page to go back to, and the one-line error of a wrong token. Posts to `/login` (auth.ts).
 *
 * @example
 * ```ts
 * import { loginPage } from "./login-page.tsx";
 *
 * const page = loginPage({ next: "/pipelines/small", error: "wrong token" });
 * ```
 */
import { Layout } from "./layout.tsx";

export function loginPage(props: { next: string; error?: string }) {
  return (
    <Layout title="Log in" nav="none">
      <form class="login" method="post" action="/login">
        <h1>Log in</h1>
        <p class="muted small">The token this server was started with (<code>--token</code> or <code>CELLAR_TOKEN</code>).</p>
        {props.error ? <p class="error">{props.error}</p> : null}
        <label>
          Token <input type="password" name="token" autocomplete="current-password" required autofocus />
        </label>
        <input type="hidden" name="next" value={props.next} />
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );
}
