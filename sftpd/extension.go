package sftpd

import "strconv"

// extended serves OpenSSH's extensions.
func (c *conv) extended(id uint32, d *decoder) error {
	name := d.str()
	switch name {
	case posixRenameExtension:
		from, to := d.path(), d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		return c.status(id, c.h.replace(from, to))
	case statvfsExtension:
		d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		st, err := c.h.statvfs()
		if err != nil {
			return c.status(id, err)
		}
		c.out.begin(fxpExtendedReply, id)
		for _, v := range st {
			c.out.u64(v)
		}
		return c.send(false)
	case limitsExtension:
		// Open handles: 0, no fixed limit. OpenSSH's client caps its
		// requests in flight at this number, so the per-session file
		// limit (max_transfers) is enforced at open instead.
		c.out.begin(fxpExtendedReply, id).u64(maxPacket).u64(maxData).u64(maxData).u64(0)
		return c.send(false)
	case fsyncExtension:
		_, hd := c.handle(d)
		if d.short || hd == nil {
			return c.status(id, c.refuse(d, hd, ""))
		}
		return c.status(id, c.h.fsync(hd))
	case hardlinkExtension:
		return c.status(id, c.h.refuseLink())
	}
	if d.short {
		return c.status(id, errMalformed)
	}
	return c.status(id, refusal{code: fxOpUnsupported, msg: "Unsupported extension " + strconv.Quote(name) + "."})
}
