import { io, type Socket } from 'socket.io-client';
import { getToken } from '../api/token';

/**
 * The app's one Socket.IO connection. `auth` is a callback so every (re)connect sends the
 * current token; local mode simply sends none.
 */
export function createSocket(): Socket {
  return io({
    path: '/socket.io',
    auth: (cb) => {
      const token = getToken();
      cb(token ? { token } : {});
    },
    reconnectionDelay: 500,
    reconnectionDelayMax: 4000,
  });
}
