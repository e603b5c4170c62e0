/**
 * `GET /admin/users` in workerd: the controls object's user directory (admin tiers, reissued key
 * generations, revocations) as gateway_ops lists it beside KV's tiers; behind the admin token,
 * never cached, and a read changes nothing (no audit row).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { admin, auditRows, resetControls, VARS } from "./controlsHelpers";
import { ADMIN } from "./gateHelpers";
import { call, freshUser } from "./helpers";

beforeEach(resetControls);
afterEach(resetControls);

describe("GET /admin/users", () => {
  it("answers an empty directory before any per-user change, never cached", async () => {
    const { response, json } = await admin("GET", "/admin/users");
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(json()).toEqual({ users: {} });
  });

  it("lists each user's admin tier, key generation and revocation; a cleared tier leaves it", async () => {
    const [alice, bob, carol, dave] = [freshUser("alice"), freshUser("bob"), freshUser("carol"), freshUser("dave")];
    await admin("PUT", `/admin/users/${alice}/tier`, { limit: 0 });
    await admin("POST", `/admin/users/${bob}/reissue`);
    await admin("POST", `/admin/users/${bob}/reissue`);
    await admin("POST", `/admin/users/${carol}/revoke`);
    await admin("PUT", `/admin/users/${dave}/tier`, { limit: 7 });
    expect((await admin("GET", "/admin/users")).json()).toEqual({
      users: { [alice]: { limit: 0 }, [bob]: { generation: 2 }, [carol]: { revoked: true }, [dave]: { limit: 7 } },
    });
    const audited = (await auditRows()).length;
    await admin("DELETE", `/admin/users/${dave}/tier`);
    const users = (await admin("GET", "/admin/users")).json().users as Record<string, unknown>;
    expect(Object.keys(users).sort()).toEqual([alice, bob, carol].sort());
    // The read itself is not an intervention: only the DELETE wrote a row.
    expect(await auditRows()).toHaveLength(audited + 1);
  });

  it.each([
    ["no Authorization header", {}],
    ["a wrong token", { Authorization: "Bearer not-the-token" }],
  ])("answers 401 to %s and shows no user", async (_case, headers) => {
    const user = freshUser("hidden");
    await admin("PUT", `/admin/users/${user}/tier`, { limit: 0 });
    const { response, text } = await call("/admin/users", { headers }, VARS);
    expect(response.status).toBe(401);
    expect(text).not.toContain(user);
  });

  it("does not exist without ADMIN_TOKEN", async () => {
    const { response } = await call("/admin/users", { headers: { Authorization: `Bearer ${ADMIN}` } }, { ADMIN_TOKEN: "" });
    expect(response.status).toBe(404);
  });
});
