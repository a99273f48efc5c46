// Preloaded (`node --require`) into supergateway for the conformance test:
// servers that listen on a bare port (all interfaces) listen on 127.0.0.1
// instead, so the test opens nothing beyond the loopback interface.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
