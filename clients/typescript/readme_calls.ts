// The README walk-through's calls, typed by the declarations openapi-typescript generates from
// openapi.yaml (`scripts/clients.sh` generates `schema.d.ts` beside this file and runs
// `tsc --noEmit --strict`). Type-checked, not run: a spec change that untypes a body, renames a
// member or makes a defaulted member required fails CI here.
import type { paths } from "./schema";

type Method = "get" | "put" | "post" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The request body an operation declares for `mediaType`; `never` when it declares none. */
type RequestBody<P extends keyof paths, M extends Method, Media extends string = "application/json"> =
  [Operation<P, M>] extends [never] ? never
    : Operation<P, M> extends { requestBody?: { content: { [K in Media]: infer B } } } ? B : never;

/** The JSON body of an operation's answer with `status`. */
type Answer<P extends keyof paths, M extends Method, S extends number> =
  Operation<P, M> extends { responses: { [K in S]: { content: { "application/json": infer R } } } } ? R : never;

async function send<T>(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; etag: string | null; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get("ETag"), body: (text ? JSON.parse(text) : null) as T };
}

export async function walkThrough(base: string, key: string): Promise<void> {
  // Register a property and its Booking.com listing.
  const property: RequestBody<"/api/v1/properties/{property_id}", "put"> = {
    name: "Hotel Seven",
    channel_mappings: [{ channel: "booking", channel_property_id: "12837615" }],
  };
  const registered = await send<Answer<"/api/v1/properties/{property_id}", "put", 200>>(
    base, key, "PUT", "/api/v1/properties/NT7", property);
  const revision: number = registered.body.contact_set_revision;

  // A CRM contact; `primary` is optional in every item.
  const create: RequestBody<"/api/v3/contacts", "post"> = {
    contactType: "GUEST",
    firstName: "Ann",
    lastName: "Jansen",
    emailAddresses: [{ emailAddress: "ann@example.com" }],
    telephones: [{ number: "020 123 4567", countryCode: "NL" }],
  };
  const created = await send<Answer<"/api/v3/contacts", "post", 201>>(base, key, "POST", "/api/v3/contacts", create);
  const id: number = created.body.id;
  const e164: string = created.body.telephones[0].e164;

  const email: RequestBody<"/api/v3/contacts/{id}/emailAddresses", "post"> = {
    emailAddress: "ann@work.example",
    primary: true,
  };
  await send(base, key, "POST", `/api/v3/contacts/${id}/emailAddresses`, email);
  // Members the server defaults (`primary`) are optional.
  const phone: RequestBody<"/api/v3/contacts/{id}/telephones", "post"> = { number: "+31 20 123 4567" };
  await send(base, key, "POST", `/api/v3/contacts/${id}/telephones`, phone);
  await send(base, key, "PUT", `/api/v3/contacts/${id}/emailAddresses/1/primary`);

  const page = await send<Answer<"/api/v3/contacts", "get", 200>>(
    base, key, "GET", "/api/v3/contacts?emailAddress=ANN@example.com&page=0&size=20&sort=lastName,asc");
  // Offset pages carry totals; cursor pages (`after`) do not, so the member is optional.
  const total: number = page.body.page.totalElements ?? 0;

  // Change one member (merge patch), then overwrite the contact (PUT) under If-Match.
  const patch: RequestBody<"/api/v3/contacts/{id}", "patch", "application/merge-patch+json"> = {
    firstName: "Anna",
    title: null,
  };
  const patched = await send<Answer<"/api/v3/contacts/{id}", "patch", 200>>(
    base, key, "PATCH", `/api/v3/contacts/${id}`, patch, { "Content-Type": "application/merge-patch+json" });
  const overwrite: RequestBody<"/api/v3/contacts/{id}", "put"> = { firstName: "Anna", lastName: "Jansen" };
  await send(base, key, "PUT", `/api/v3/contacts/${id}`, overwrite, { "If-Match": patched.etag ?? "*" });

  // Merge a second contact into the first.
  const other = await send<Answer<"/api/v3/contacts", "post", 201>>(
    base, key, "POST", "/api/v3/contacts", { lastName: "Jansen" } satisfies RequestBody<"/api/v3/contacts", "post">);
  const merge: RequestBody<"/api/v3/contacts/merge", "post"> = { primaryContactId: id, secondaryContactId: other.body.id };
  const merged = await send<Answer<"/api/v3/contacts/merge", "post", 200>>(
    base, key, "POST", "/api/v3/contacts/merge", merge);
  const ok: boolean = merged.body.success;
  console.log(revision, e164, total, ok);
}

/** Request bodies are typed, not `unknown`: a misspelt or mistyped member is an error, so each
 * directive below is needed (tsc reports an unneeded one). */
export function typedBodies(): void {
  // @ts-expect-error `frstName` is no member of a contact.
  const misspelt: RequestBody<"/api/v3/contacts", "post"> = { frstName: 42 };
  // @ts-expect-error `firstName` is a string.
  const mistyped: RequestBody<"/api/v3/contacts/{id}", "put"> = { firstName: 42 };
  console.log(misspelt, mistyped);
}
