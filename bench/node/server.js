// The yardstick for bench/fanout.py and bench/connect_storm.py: a bare Socket.IO 4.8 server
// doing what Anteroom does for a requester's dashboard, and nothing else. Every connection
// joins the "directory" room and is sent SNAPSHOTS snapshot events on connect; a POST to
// /broadcast emits one availability_changed event to the room. Payload sizes come from the
// environment so they match what the benchmark measured on Anteroom's wire.
//
//   PORT=5055 EVENT_BYTES=120 SNAPSHOT_BYTES=600 SNAPSHOTS=2 node server.js
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || 5055);
const eventBytes = Number(process.env.EVENT_BYTES || 120);
const snapshotBytes = Number(process.env.SNAPSHOT_BYTES || 600);
const snapshots = Number(process.env.SNAPSHOTS || 2);

// A payload whose JSON is about `bytes` long: the shape of Anteroom's, padded.
function padded(base, bytes) {
  const size = JSON.stringify(base).length;
  return { ...base, pad: "x".repeat(Math.max(0, bytes - size - 10)) };
}

let version = 0;
const httpServer = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/broadcast") {
    version += 1;
    io.to("directory").emit(
      "availability_changed",
      padded({ id: 1, name: "Dr. Bench", available: version % 2 === 1, stream: "directory", version }, eventBytes),
    );
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ ok: true, version }));
  } else if (req.url === "/stats") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ clients: io.engine.clientsCount, rss: process.memoryUsage().rss }));
  } else {
    res.writeHead(404);
    res.end();
  }
});

const io = new Server(httpServer, { serveClient: false });
io.on("connection", (socket) => {
  socket.join("directory");
  for (let n = 0; n < snapshots; n += 1) {
    socket.emit("snapshot", padded({ stream: n === 0 ? "requester:1" : "directory", version, data: {} }, snapshotBytes));
  }
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`node socket.io ${require("socket.io/package.json").version} on ${port}`);
});
process.on("SIGTERM", () => process.exit(0));
