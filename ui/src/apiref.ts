// The API reference page: every command this server answers, read from its OpenAPI document
// (/client/api/openapi.json, generated from the same registry as listApis), and one command's parameters.
import { h } from "./dom";

type Param = { name: string; required?: boolean; description?: string; schema?: { type?: string; format?: string; items?: { type?: string } } };
type Operation = { operationId: string; summary?: string; description?: string; tags?: string[]; parameters?: Param[];
  "x-isasync"?: boolean; "x-since"?: string; "x-roles"?: string[]; "x-related"?: string[] };

let ops: Operation[] | null = null;

async function operations(): Promise<Operation[]> {
  if (ops) return ops;
  const r = await fetch("/client/api/openapi.json", { credentials: "same-origin" });
  if (!r.ok) throw new Error(`the API description did not load (HTTP ${r.status})`);
  const doc = await r.json();
  ops = Object.values(doc.paths as Record<string, { get: Operation }>).map((p) => p.get)
    .sort((a, b) => a.operationId.localeCompare(b.operationId));
  return ops;
}

function typeOf(p: Param): string {
  const s = p.schema ?? {};
  if (s.type === "array") return `list of ${s.items?.type ?? "string"}`;
  return s.format ? `${s.type} (${s.format})` : (s.type ?? "string");
}

function detail(op: Operation): HTMLElement {
  const params = (op.parameters ?? []).filter((p) => p.name !== "command" && p.name !== "response");
  return h("section", { id: "api-command", "data-command": op.operationId },
    h("h2", {}, op.operationId, op["x-isasync"] ? h("span", { class: "badge", title: "returns a job to poll with queryAsyncJobResult" }, " async") : ""),
    h("p", {}, op.description ?? ""),
    h("p", { class: "muted" }, [op.tags?.length ? `family: ${op.tags.join(", ")}` : "", op["x-since"] ? ` · since ${op["x-since"]}` : "",
      op["x-roles"]?.length ? ` · roles: ${op["x-roles"].join(", ")}` : ""]),
    params.length
      ? h("table", { id: "api-params" }, h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "Required"), h("th", {}, "Type"), h("th", {}, "Description"))),
          h("tbody", {}, params.map((p) => h("tr", { "data-param": p.name }, h("td", {}, h("code", {}, p.name)), h("td", {}, p.required ? "yes" : ""),
            h("td", {}, typeOf(p)), h("td", {}, p.description ?? "")))))
      : h("p", { class: "empty" }, "No parameters."),
    op["x-related"]?.length ? h("p", {}, "Related: ", op["x-related"].map((r) => [h("a", { href: `#/api/${r}` }, r), " "])) : "");
}

export async function apiReference(main: HTMLElement, selected?: string) {
  main.append(h("h1", {}, "API reference"));
  let all: Operation[];
  try { all = await operations(); } catch (e) { main.append(h("div", { class: "error", role: "alert" }, String(e))); return; }
  const count = h("span", { id: "api-count" }, `${all.length} commands`);
  const listEl = h("ul", { id: "api-commands", class: "api-commands" });
  const show = (needle: string) => {
    const n = needle.toLowerCase();
    const shown = all.filter((o) => !n || o.operationId.toLowerCase().includes(n));
    listEl.replaceChildren(...shown.map((o) => h("li", { "data-command": o.operationId },
      h("a", { href: `#/api/${o.operationId}`, class: o.operationId === selected ? "active" : "" }, o.operationId),
      o.summary ? h("span", { class: "muted" }, ` ${o.summary}`) : "")));
    count.textContent = n ? `${shown.length} of ${all.length} commands` : `${all.length} commands`;
  };
  const filter = h("input", { id: "api-filter", type: "search", placeholder: "filter commands", oninput: (ev: Event) => show((ev.target as HTMLInputElement).value) });
  const op = selected ? all.find((o) => o.operationId === selected) : undefined;
  main.append(h("p", {}, "Every command of ", h("a", { href: "/client/api/openapi.json" }, "/client/api/openapi.json"), " (OpenAPI 3.1). ", count));
  main.append(h("div", { class: "api-ref" }, h("div", { class: "api-list" }, filter, listEl),
    h("div", { class: "api-detail" }, op ? detail(op) : (selected ? h("p", { class: "error" }, `No command ${selected}.`) : h("p", { class: "muted" }, "Choose a command.")))));
  show("");
}
