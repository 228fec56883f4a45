// Runs web-push-testing's push-service emulator on 127.0.0.1 only and prints the port it got.
// Its own CLI listens on every interface, detaches and keeps a pid file in the working
// directory; the tests want a private, loopback-only instance per run instead.
'use strict';

const TestingServer = require('web-push-testing/src/server.js');
const {PushApiModel} = require('web-push-testing/src/PushApiModel.js');

const host = '127.0.0.1';
const model = new PushApiModel();
const server = new TestingServer(model, Number(process.argv[2] || 0));
server.setRequestHandlers();
const listener = server._app.listen(server._port, host, () => {
	const {port} = listener.address();
	// Subscription endpoints must name the address we listen on, with the real port.
	model.notifyUrl = `http://${host}:${port}/notify/`;
	console.log(`listening ${port}`);
});
listener.on('error', err => {
	console.error(err);
	process.exit(1);
});
process.on('SIGTERM', () => listener.close(() => process.exit(0)));
