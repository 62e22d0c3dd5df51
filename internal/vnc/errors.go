package vnc

import "errors"

var (
	// ErrDisconnected is wrapped by every error that means the connection
	// is gone (server closed it, network error, protocol violation).
	// Callers re-dial when errors.Is(err, ErrDisconnected).
	ErrDisconnected = errors.New("vnc: disconnected")

	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("vnc: client closed")

	// ErrAuth is wrapped by handshake errors where the server refused the
	// credentials or requires a password that was not given.
	ErrAuth = errors.New("vnc: authentication failed")

	// ErrProtocol is wrapped by errors caused by a server that broke the
	// protocol or exceeded a safety limit (see Options).
	ErrProtocol = errors.New("vnc: protocol error")
)
