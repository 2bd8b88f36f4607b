/* placeholder until the module lands */
typedef int fc_ckpt_placeholder;
