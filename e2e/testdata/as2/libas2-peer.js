// A trading partner on libas2 (npm), a second AS2 implementation that no
// one here wrote, for the round trips of e2e/as2_libas2_test.go.
//
//   node libas2-peer.js send URL STATION_CERT PEER_CERT PEER_KEY FILE
//     composes FILE as a signed, encrypted message from ACME to DEPOT,
//     posts it to URL, verifies the signed MDN with STATION_CERT and
//     prints {"status", "disposition", "mic"} as JSON.
//   node libas2-peer.js serve STATION_CERT PEER_CERT PEER_KEY OUT_DIR
//     listens on 127.0.0.1 (prints {"port"}), and for each message
//     decrypts it with PEER_KEY, verifies it with STATION_CERT, writes
//     the payload to OUT_DIR/<file name> and answers a signed MDN.
'use strict'
const fs = require('fs')
const http = require('http')
const path = require('path')
const { AS2Composer, AS2Parser, AS2Disposition } = require('libas2')

const read = f => fs.readFileSync(f, 'utf8')

async function send (url, stationCert, peerCert, peerKey, file) {
  const composer = new AS2Composer({
    message: { filename: path.basename(file), contentType: 'application/edi-x12', content: fs.readFileSync(file) },
    agreement: {
      host: { name: 'Acme', id: 'ACME', url: 'http://127.0.0.1/', certificate: read(peerCert), privateKey: read(peerKey), decrypt: true, sign: 'sha-256', mdn: { signing: 'sha-256' } },
      partner: { name: 'Depot', id: 'DEPOT', url, file: 'EDIX12', certificate: read(stationCert), encrypt: 'aes256-CBC', verify: true }
    }
  })
  const req = await composer.toRequestOptions(url)
  const res = await post(url, req.headers, req.body)
  const node = await AS2Parser.parse({ headers: res.rawHeaders, content: res.body })
  const mdn = await AS2Disposition.incoming(node, { cert: read(stationCert) })
  const n = mdn.notification
  const d = n.disposition
  console.log(JSON.stringify({
    status: res.statusCode,
    processed: d.processed,
    description: d.description ? d.description.type + ': ' + d.description.text : '',
    mic: n.receivedContentMic ? n.receivedContentMic.mic + ', ' + n.receivedContentMic.algorithm : ''
  }))
}

function post (url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ statusCode: res.statusCode, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

function serve (stationCert, peerCert, peerKey, outDir) {
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', c => chunks.push(c))
    req.on('end', async () => {
      try {
        const node = await AS2Parser.parse({ headers: req.rawHeaders, content: Buffer.concat(chunks) })
        const { contentNode, dispositionNode } = await node.dispositionOut({
          agreement: {
            host: { name: 'Acme', id: 'ACME', url: 'http://127.0.0.1/', certificate: read(peerCert), privateKey: read(peerKey), decrypt: false, sign: 'sha-256', mdn: { signing: 'sha-256' } },
            partner: { name: 'Depot', id: 'DEPOT', url: 'http://127.0.0.1/', file: 'EDIX12', certificate: read(stationCert), encrypt: 'aes256-CBC', verify: true, mdn: { signing: 'sha-256' } }
          }
        })
        const name = contentNode.filename || 'payload'
        fs.writeFileSync(path.join(outDir, path.basename(name)), contentNode.content)
        const out = await dispositionNode.buildObject()
        res.writeHead(200, out.headers)
        res.end(out.body)
      } catch (e) {
        fs.writeFileSync(path.join(outDir, 'error.txt'), String(e && e.stack || e))
        res.writeHead(500)
        res.end(String(e))
      }
    })
  })
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'send') {
  send(...args).catch(e => { console.error(e && e.stack || e); process.exit(1) })
} else if (mode === 'serve') {
  serve(...args)
} else {
  console.error('usage: libas2-peer.js send|serve …')
  process.exit(2)
}
