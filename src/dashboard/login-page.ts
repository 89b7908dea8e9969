/** The 401 page: a form that trades the admin token for a session cookie. No script, no outside resources. */
export function loginPage(error: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard dashboard: sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<style>body{font:15px system-ui,sans-serif;background:#10141a;color:#e6e9ee;display:grid;place-items:center;height:100vh;margin:0}
form{background:#1a2029;padding:24px 28px;border-radius:8px;min-width:320px}input{width:100%;box-sizing:border-box;padding:8px;margin:8px 0 14px;background:#0d1117;color:inherit;border:1px solid #344;border-radius:4px}
button{padding:8px 16px;background:#3b82f6;color:#fff;border:0;border-radius:4px;cursor:pointer}.error{color:#f87171}</style></head>
<body><form method="post" action="/dashboard/login"><h1>Switchboard</h1>
<p>This node's dashboard needs its admin token (<code>adminToken</code>).</p>
${error === null ? '' : `<p class="error" role="alert">${error}</p>`}
<label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form></body></html>`;
}
