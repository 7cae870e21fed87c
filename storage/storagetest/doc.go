// Package storagetest checks that a storage.Storage keeps the contract
// package storage documents, the way testing/fstest checks an fs.FS: every
// Storage implementation calls Run from its tests. NewTorrent builds small
// test torrents with known content. It is for tests only; production code
// never imports it. Run's subtests use t.TempDir and run one at a time.
package storagetest
