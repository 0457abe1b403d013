package train

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/arborlabs/arbor/runtime/model"
)

// SaveCheckpoint writes the model's weights and the optimizer's state (its step count and
// moments) to path as one safetensors file ("param.NAME", "adam_m.NAME", "adam_v.NAME"), with
// meta as the file's metadata. The file is written beside path, synced and renamed: a crash
// leaves the previous checkpoint whole.
func SaveCheckpoint(path string, m *Model, o *AdamW, meta map[string]string) error {
	md := map[string]string{"adam_step": strconv.Itoa(o.step)}
	for k, v := range meta {
		md[k] = v
	}
	var ts []*model.Tensor
	add := func(prefix string, p *Params) error {
		for _, t := range p.Tensors(&m.Config) {
			mt, err := model.NewTensor(prefix+t.Name, model.F32, t.Shape, t.Data)
			if err != nil {
				return err
			}
			ts = append(ts, mt)
		}
		return nil
	}
	if err := add("param.", &m.Params); err != nil {
		return err
	}
	if o.init {
		if err := add("adam_m.", &o.m); err != nil {
			return err
		}
		if err := add("adam_v.", &o.v); err != nil {
			return err
		}
	}
	tmp := path + ".partial"
	if err := model.WriteSafetensors(tmp, ts, md); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = errors.Join(f.Sync(), f.Close())
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// LoadCheckpoint reads a checkpoint of SaveCheckpoint into m and o (m's config must be the
// one it was saved with) and returns its metadata.
func LoadCheckpoint(path string, m *Model, o *AdamW) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tensors, meta, err := model.ParseSafetensors(path, data)
	if err != nil {
		return nil, err
	}
	load := func(prefix string, p *Params) error {
		for _, t := range p.Tensors(&m.Config) {
			st, ok := tensors[prefix+t.Name]
			if !ok {
				return fmt.Errorf("checkpoint %s: no tensor %s", path, prefix+t.Name)
			}
			if st.DType != model.F32 || st.NumElements() != len(t.Data) {
				return fmt.Errorf("checkpoint %s: tensor %s is %v %v, want f32 %v", path, prefix+t.Name, st.DType, st.Shape, t.Shape)
			}
			copy(t.Data, st.Float32s())
		}
		return nil
	}
	if err := load("param.", &m.Params); err != nil {
		return nil, err
	}
	step, err := strconv.Atoi(meta["adam_step"])
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: adam_step: %w", path, err)
	}
	o.step = step
	if _, ok := tensors["adam_m.embed"]; ok {
		o.m, o.v, o.init = newParams(&m.Config), newParams(&m.Config), true
		if err := load("adam_m.", &o.m); err != nil {
			return nil, err
		}
		if err := load("adam_v.", &o.v); err != nil {
			return nil, err
		}
	}
	return meta, nil
}
