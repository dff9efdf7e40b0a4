import { defineConfig } from "vite";

// Built into ../management/ui_dist (shipped by the Python package) and served at /client/ by the API port.
// `npm run dev` proxies the API and the console websocket to a running devcloud (DEVCLOUD_API, default :8080).
const api = process.env.DEVCLOUD_API || "http://127.0.0.1:8080";
export default defineConfig({
  base: "/client/",
  build: { outDir: "../management/ui_dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  server: { proxy: { "/client/api": api, "/client/console": { target: api.replace(/^http/, "ws"), ws: true } } },
});
