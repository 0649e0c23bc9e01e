package cli

import (
	"github.com/spf13/cobra"
)

func newTagCmd(f *Factory, runF func(src, dst string) error) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2, "a source image and a target name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(args[0], args[1])
			}
			e, err := f.EngineWithStore()
			if err != nil {
				return err
			}
			return e.TagImage(args[0], args[1])
		},
	}
}
